"""Sentence banks of the simulator's Turkish answers (templates filled by :mod:`.content`)."""

from __future__ import annotations

ASPECTS = [
    "hukuk", "tarih", "ekonomi", "kavramsal çerçeve", "toplum", "uygulama", "bilim", "etik",
    "kamu yönetimi", "günlük yaşam",
]

FIRST_STEPS = [
    "Soruda istenen, «{konu}» konusunun {aci} açısından ele alınmasıdır.",
    "Soru, «{konu}» ifadesiyle {k1} hakkında {aci} açısından bir değerlendirme istemektedir.",
    "Öncelikle sorunun kapsamı belirlenir: «{konu}».",
    "Sorunun odak noktası «{konu}» olduğundan önce {k1} kavramı netleştirilmelidir.",
]

MIDDLE_STEPS = [
    "İlgili mevzuat ve temel kavramlar belirlenir: {k1} ve {k2}.",
    "{K1} kavramının tanımı yapılır ve sorudaki bağlamla ilişkilendirilir.",
    "{K1} ile {k2} arasındaki ilişki incelenir; benzerlikler ve farklılıklar not edilir.",
    "Konunun tarihsel arka planı kısaca gözden geçirilir; {k1} zaman içinde farklı biçimlerde yorumlanmıştır.",
    "Türkiye'deki uygulama örnekleri dikkate alınarak {k1} somutlaştırılır.",
    "Olası istisnalar ve özel durumlar değerlendirilir; özellikle {k2} bakımından dikkatli olunmalıdır.",
    "Sorudaki veriler sırasıyla ele alınır ve her biri {k1} açısından yorumlanır.",
    "Yaygın bir yanılgı, {k1} ile {k2} kavramlarının aynı anlama geldiğini düşünmektir; bu ayrım netleştirilir.",
    "{Aci} açısından bakıldığında {k1} konusunun temel sonuçları sıralanır.",
    "Kaynaklarda genel kabul gören görüş özetlenir ve {k2} ile karşılaştırılır.",
    "Ara sonuç: {k1} konusundaki temel ilke, sorunun çözümünde belirleyicidir.",
    "Karşı görüşler de değerlendirilerek {k1} hakkındaki yorumun tutarlılığı sınanır.",
    "Gerekli çıkarımlar adım adım yapılır: önce {k1}, ardından {k2} ele alınır.",
]

NUMBER_STEP = "Soruda verilen sayısal değerler ({sayilar}) not edilir ve birimleri kontrol edilir."

LAST_STEPS = [
    "Bulgular bir araya getirilerek «{konu}» sorusuna doğrudan yanıt verilecek biçimde sentezlenir.",
    "Son olarak varılan sonuç, sorunun ifadesiyle karşılaştırılarak kontrol edilir.",
    "Elde edilen ara sonuçlar birleştirilir ve {k1} hakkında gerekçeli bir sonuca ulaşılır.",
]

ANSWERS = [
    "«{konu}» sorusunun yanıtı şöyle özetlenebilir: {k1} konusunda belirleyici olan, ilgili kuralların ve "
    "bağlamın birlikte değerlendirilmesidir. {K2} de bu değerlendirmede göz ardı edilmemelidir. Sonuç olarak "
    "{aci} açısından bakıldığında {k1} hakkında dengeli ve gerekçeli bir yaklaşım benimsenmelidir.",
    "{K1}, {aci} açısından ele alındığında birden fazla boyutu olan bir konudur. Temel ilke ile {k2} "
    "arasındaki ilişki doğru kurulduğunda «{konu}» sorusuna verilecek yanıt netleşir: her somut durum kendi "
    "koşulları içinde değerlendirilmelidir.",
    "Kısaca, {k1} ile ilgili temel kavramlar ve Türkiye'deki uygulama birlikte düşünüldüğünde sorunun yanıtı, "
    "{k2} unsurunun da dikkate alındığı gerekçeli bir değerlendirmedir. Bu yaklaşım {aci} açısından da "
    "tutarlıdır.",
    "Yapılan değerlendirmeye göre {k1}, sorunun merkezinde yer alır. {K2} bu sonucu destekleyen ikinci önemli "
    "unsurdur. Dolayısıyla «{konu}» sorusu, bu iki unsurun birlikte ele alınmasıyla yanıtlanır.",
]

PLAIN = [
    "{K1} konusu, {aci} açısından değerlendirildiğinde birkaç temel unsur öne çıkar. Öncelikle kavramların "
    "doğru tanımlanması gerekir; ardından {k2} ile ilişkisi incelenmelidir. Türkiye'deki uygulama örnekleri "
    "bu değerlendirmeyi somutlaştırır.",
    "Bu konuda dikkat edilmesi gereken nokta, {k1} ile {k2} arasındaki dengedir. Konu {aci} açısından ele "
    "alındığında farklı görüşler bulunduğu görülür; gerekçeli bir sonuç için bu görüşlerin karşılaştırılması "
    "gerekir.",
    "Kısaca belirtmek gerekirse, {k1} konusunda genel kabul gören yaklaşım, somut durumun koşullarına göre "
    "değerlendirme yapılmasıdır. {K2} de bu değerlendirmenin önemli bir parçasıdır.",
]

TASK_TEMPLATES = [
    "{P} kavramını örneklerle açıklayınız.",
    "{P} konusunun temel ilkelerini açıklayınız.",
    "{P} ile ilgili yaygın yanılgıları açıklayınız.",
    "{P} sürecinin aşamalarını sırasıyla açıklayınız.",
    "{P} ile {q} arasındaki farkları karşılaştırınız.",
    "{P} konusundaki farklı yaklaşımları avantaj ve dezavantajlarıyla karşılaştırınız.",
    "Türkiye'deki {p} uygulamasını bir Avrupa ülkesindeki uygulamayla karşılaştırınız.",
    "{P} konusunun toplumsal etkilerini analiz ediniz.",
    "{P} alanında son yıllarda yaşanan değişiklikleri analiz ediniz.",
    "{P} ile {q} arasındaki ilişkiyi analiz ediniz.",
    "{P} konusunun ekonomik boyutunu analiz ediniz.",
    "{P} ile ilgili basit bir sayısal örnek oluşturarak sonucu adım adım hesaplayınız.",
    "Bir KOBİ için {p} kapsamında ortaya çıkacak yıllık maliyeti varsayımsal verilerle hesaplayınız.",
    "{P} konusunda verilen oranlara göre yüzde değişimi hesaplayınız.",
    "Vaka: Ankara'da yaşayan bir öğretmen {p} ile ilgili bir sorunla karşılaşıyor. Hangi adımları "
    "izlemesi gerektiğini açıklayınız.",
    "Vaka: İzmir'de küçük bir işletme {p} nedeniyle zor bir durumda kalmıştır. İşletmeye ne önerirsiniz?",
    "Vaka: Bir belediye {p} konusunda yeni bir düzenleme yapmak istiyor. Olası sonuçları değerlendiriniz.",
    "Vaka: Bir üniversite öğrencisi {p} ile {q} arasında seçim yapmak zorunda. Gerekçeli bir öneri sununuz.",
    "{P} konusunu lise öğrencilerine anlatacak kısa bir ders planı hazırlayınız.",
    "{P} hakkında sık sorulan üç soruyu ve yanıtlarını yazınız.",
    "{P} konusunun tarihsel gelişimini kronolojik olarak özetleyiniz.",
]

GEREKCE_HIGH = [
    "Yanıt soruyu doğru ve eksiksiz karşılıyor; akıl yürütme adımları tutarlı ve Türkçe ifade doğal.",
    "Adımlar mantıklı bir sırayla ilerliyor ve nihai cevap soruyla uyumlu; kültürel bağlam doğru kurulmuş.",
    "Yanıt ilgili kavramları doğru kullanıyor ve Türkiye bağlamına uygun örnekler veriyor.",
]
GEREKCE_MID = [
    "Yanıt genel olarak doğru ancak bazı adımlar yüzeysel kalmış ve önemli bir ayrıntı eksik.",
    "Temel fikir doğru olmakla birlikte gerekçelendirme zayıf; bazı ifadeler belirsiz kalmış.",
]
GEREKCE_LOW = [
    "Yanıt sorunun özünü kaçırıyor; temel kavramlar yanlış kullanılmış.",
    "Akıl yürütme adımları birbiriyle çelişiyor ve nihai cevap soruyu karşılamıyor.",
]

FILLER_WORDS = [
    "örnek", "değer", "açıklama", "kavram", "sonuç", "yöntem", "veri", "kaynak", "ilke", "süreç",
    "analiz", "karar", "görüş", "bilgi", "kural",
]

