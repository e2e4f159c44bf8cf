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
    "bağlamın birlikte değerlendirilmesidir. {k2:cap,da} bu değerlendirmede göz ardı edilmemelidir. Sonuç olarak "
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
    "değerlendirme yapılmasıdır. {k2:cap,da} bu değerlendirmenin önemli bir parçasıdır.",
]

#: Expansion task templates for every domain. ``{p}`` / ``{q}`` are :class:`~.turkish.Phrase` topics, so
#: ``{p:cap,gen}`` capitalises and adds the genitive in harmony. Every template ends as an instruction.
TASK_TEMPLATES = [
    "{p:cap} kavramını örneklerle açıklayınız.",
    "{p:cap} konusunun temel ilkelerini açıklayınız.",
    "{p:cap} ile ilgili yaygın yanılgıları açıklayınız.",
    "{p:cap} ile {q} arasındaki farkları karşılaştırınız.",
    "{p:cap} ile {q} arasındaki ilişkiyi analiz ediniz.",
    "Türkiye'de {p:gen} son yirmi yıldaki gelişimini değerlendiriniz.",
    "{p:cap,gen} Türkiye açısından önemini gerekçeleriyle açıklayınız.",
    "{p:cap} konusunu lise öğrencilerine anlatacak kısa bir ders planı hazırlayınız.",
    "{p:cap} hakkında sık sorulan üç soruyu yanıtlarıyla birlikte yazınız.",
    "{p:cap} konusunda Türkiye'deki uygulamayı bir Avrupa Birliği ülkesindeki uygulamayla karşılaştırınız.",
    "{p:cap} konusunun toplumsal ve ekonomik etkilerini analiz ediniz.",
    "{p:cap,dat} ilişkin temel kavramları kısa tanımlarla sıralayınız.",
]

#: Domain-specific templates (added to :data:`TASK_TEMPLATES` for that domain).
DOMAIN_TASK_TEMPLATES: dict[str, list[str]] = {
    "hukuk": [
        "Vaka: Bir vatandaş {p:dat} ilişkin bir uyuşmazlıkla karşılaşıyor. Başvurabileceği hukuki yolları "
        "sırasıyla açıklayınız.",
        "{p:cap} konusunda Yargıtay'ın yerleşik yaklaşımını varsayımsal bir olay üzerinden açıklayınız.",
    ],
    "ekonomi": [
        "{p:cap} ile ilgili varsayımsal verilerle basit bir sayısal örnek kurarak sonucu adım adım hesaplayınız.",
        "Vaka: İzmir'de küçük bir işletme {p} nedeniyle nakit sıkıntısı yaşıyor. İşletmeye yapılabilecek "
        "önerileri gerekçeleriyle sıralayınız.",
    ],
    "finans": [
        "{p:cap} ile ilgili varsayımsal verilerle basit bir sayısal örnek kurarak sonucu adım adım hesaplayınız.",
        "Bir KOBİ'nin {p} kapsamında karşılaşabileceği riskleri ve maliyetleri varsayımsal verilerle "
        "hesaplayınız.",
    ],
    "tarih": [
        "{p:cap,abl} önceki ve sonraki gelişmeleri kronolojik olarak özetleyiniz.",
        "{p:cap} konusunu dönemin birincil kaynaklarına dayanarak değerlendiriniz.",
    ],
    "cografya": [
        "{p:cap} konusunu Türkiye'den örnek bölgelerle açıklayınız.",
        "Bir harita üzerinde {p:gen} Türkiye'deki dağılımını yorumlayınız.",
    ],
    "edebiyat": [
        "{p:cap} konusunu bir şiir ya da roman örneği üzerinden inceleyiniz.",
        "{p:cap} ile {q} arasındaki benzerlikleri ve farklılıkları tartışınız.",
    ],
    "saglik": [
        "Bir aile sağlığı merkezinde {p} konusunda yapılacak bilgilendirmenin ana başlıklarını sıralayınız.",
        "{p:cap} konusunda hasta ve sağlık çalışanının sorumluluklarını karşılaştırınız.",
    ],
    "kamu_yonetimi": [
        "Vaka: Bir belediye {p} konusunda yeni bir düzenleme yapmak istiyor. Olası sonuçlarını değerlendiriniz.",
        "{p:cap} konusunda merkezî yönetim ile yerel yönetimlerin görev paylaşımını açıklayınız.",
    ],
}

#: Real Turkish topics per domain (nominative noun phrases; proper names capitalised).
DOMAIN_TOPICS: dict[str, list[str]] = {
    "hukuk": [
        "kıdem tazminatı", "haksız tahrik", "işe iade davası", "idari para cezası", "zamanaşımı süreleri",
        "boşanma davası", "yasal mirasçılık", "tüketici hakem heyeti", "Türk Ceza Kanunu",
        "Türk Medeni Kanunu", "Anayasa Mahkemesi", "kira sözleşmesi",
    ],
    "tarih": [
        "Tanzimat Fermanı", "Amasya Genelgesi", "Lozan Antlaşması", "Kurtuluş Savaşı", "harf devrimi",
        "Osmanlı tımar sistemi", "Meşrutiyet dönemi", "Malazgirt Savaşı", "çok partili hayata geçiş",
        "Sakarya Meydan Muharebesi",
    ],
    "ekonomi": [
        "enflasyon", "katma değer vergisi", "cari açık", "asgari ücret", "merkez bankası bağımsızlığı",
        "işsizlik sigortası", "dış ticaret dengesi", "kurumlar vergisi", "faiz oranları", "gelir dağılımı",
    ],
    "finans": [
        "mevduat sigortası", "katılım bankacılığı", "halka arz", "kredi kartı faizi", "bireysel emeklilik sistemi",
        "Borsa İstanbul", "döviz kuru riski", "tahvil getirisi", "finansal kiralama", "kredi notu",
    ],
    "cografya": [
        "karstik yer şekilleri", "Akdeniz iklimi", "heyelan riski", "Güneydoğu Anadolu Projesi",
        "nüfus yoğunluğu", "Tuz Gölü", "deprem kuşakları", "fay hatları", "Ergene Havzası", "iç göç",
    ],
    "edebiyat": [
        "Tanzimat edebiyatı", "Servet-i Fünun", "halk şiiri", "divan edebiyatı", "Garip akımı",
        "Köy Enstitüleri", "aruz ölçüsü", "hece ölçüsü", "Milli Edebiyat akımı", "Cumhuriyet dönemi romanı",
    ],
    "saglik": [
        "aile hekimliği", "genel sağlık sigortası", "koruyucu sağlık hizmetleri", "akılcı ilaç kullanımı",
        "aşı takvimi", "hasta hakları", "sevk zinciri", "ağız ve diş sağlığı", "obezite", "antibiyotik direnci",
    ],
    "kamu_yonetimi": [
        "yerel yönetimler", "büyükşehir belediyesi", "kamu ihalesi", "e-Devlet hizmetleri", "Sayıştay denetimi",
        "il özel idaresi", "bilgi edinme hakkı", "memur disiplin cezaları", "stratejik planlama",
        "Kamu Denetçiliği Kurumu",
    ],
}

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


#: Words that point at a domain when a prompt has no ``Alan:`` line (lowercase, Turkish-folded).
DOMAIN_HINTS: dict[str, tuple[str, ...]] = {
    "hukuk": ("kanun", "dava", "mahkeme", "hukuk", "sözleşme", "miras", "tazminat"),
    "tarih": ("osmanlı", "savaş", "antlaşma", "ferman", "padişah", "cumhuriyet'in ilan", "meşrutiyet"),
    "ekonomi": ("enflasyon", "vergi", "faiz", "ekonomi", "büyüme", "işsizlik", "ücret"),
    "finans": ("banka", "borsa", "kredi", "mevduat", "tahvil", "yatırım", "sigorta"),
    "cografya": ("iklim", "nüfus", "bölge", "akarsu", "dağ", "ova", "deprem"),
    "edebiyat": ("şiir", "roman", "edebiyat", "şair", "yazar", "hikâye", "divan"),
    "saglik": ("sağlık", "hasta", "hekim", "ilaç", "hastane", "aşı", "tedavi"),
    "kamu_yonetimi": ("belediye", "kamu", "memur", "idare", "bakanlık", "valilik", "yönetim"),
}
