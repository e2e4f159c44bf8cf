"""A small SFT release written to the `sft_export` contract, and a stand-in `sft_export` asset.

The real `sft_export` is built on another branch; these tests only rely on its contract: a table
with `release_version` / `release_dir` per example, and the JSONL files in that folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from dagster import asset

SYSTEM = "Sen Türkçe düşünen ve adım adım akıl yürüten yardımsever bir asistansın."

FACTS = {
    "hukuk": [
        ("Borçlu temerrüdünün şartları nelerdir?", "Borç muaccel olmalı ve alacaklı ihtar etmelidir.",
         "Temerrüt için muaccel borç ve ihtar gerekir."),
        ("İptal davası hangi sürede açılır?", "İdari yargıda genel dava süresi altmış gündür.",
         "İptal davası altmış gün içinde açılır."),
        ("Kıdem tazminatı hangi ücret üzerinden hesaplanır?", "Giydirilmiş brüt ücret esas alınır.",
         "Giydirilmiş brüt ücret üzerinden hesaplanır."),
        ("Haksız tahrik indirimi ne kadardır?", "Ceza dörtte birden dörtte üçe kadar indirilir.",
         "İndirim dörtte birden dörtte üçe kadardır."),
    ],
    "tarih": [
        ("Malazgirt Savaşı hangi yılda yapıldı?", "Savaş Alparslan döneminde yapılmıştır.",
         "Malazgirt Savaşı 1071 yılında yapıldı."),
        ("İstanbul'u kim fethetti?", "Fetih Osmanlı padişahı tarafından gerçekleştirildi.",
         "İstanbul'u Fatih Sultan Mehmet fethetti."),
        ("Tanzimat Fermanı ne zaman ilan edildi?", "Ferman Gülhane'de okunmuştur.",
         "Tanzimat Fermanı 1839 yılında ilan edildi."),
        ("Cumhuriyet ne zaman ilan edildi?", "Cumhuriyet Ankara'da ilan edilmiştir.",
         "Cumhuriyet 29 Ekim 1923'te ilan edildi."),
    ],
    "cografya": [
        ("Türkiye'nin en yüksek dağı hangisidir?", "Doğu Anadolu'daki volkanik dağ en yüksektir.",
         "En yüksek dağ Ağrı Dağı'dır."),
        ("Türkiye'nin en uzun nehri hangisidir?", "Tamamı yurt içinde akan en uzun nehir aranır.",
         "En uzun nehir Kızılırmak'tır."),
        ("Türkiye'nin en büyük gölü hangisidir?", "Doğu Anadolu'daki sodalı göl en büyüğüdür.",
         "En büyük göl Van Gölü'dür."),
        ("Karadeniz iklimi nasıldır?", "Her mevsim yağışlı ve ılımandır.",
         "Karadeniz iklimi her mevsim yağışlıdır."),
    ],
}


def _assistant(step: str, answer: str) -> str:
    return f"<think>\n1. {step}\n2. Cevabı kısaca yazarım.\n</think>\n\n{answer}"


def write_release(root: Path, version: str = "r-test-0001", repeats: int = 3) -> pl.DataFrame:
    """Write the release files under root/<version>/ and return the `sft_export` table for them."""
    release_dir = root / version
    (release_dir / "prompt_completion").mkdir(parents=True, exist_ok=True)
    table, splits = [], {"train": [], "validation": []}
    evals = []
    for domain, facts in FACTS.items():
        for k, (question, step, answer) in enumerate(facts):
            content = _assistant(step, answer)
            prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
            seed_id = f"{domain}-{k:03d}"
            if k == len(facts) - 1:  # the last fact of each domain is held out for evaluation
                evals.append({"domain": domain, "seed_id": seed_id, "instruction": question, "prompt": prompt,
                              "reference": content})
                table.append(("eval", domain, seed_id, question, content))
                continue
            split = "validation" if k == len(facts) - 2 else "train"
            for sample in range(repeats if split == "train" else 1):
                side = {"domain": domain, "seed_id": seed_id, "sample_index": sample, "teacher_model": "teacher-sim",
                        "judge_model": "judge-sim", "dogruluk": 5, "kulturel_uygunluk": 5,
                        "completion_tokens": len(content.split()), "content_hash": f"{seed_id}-{sample}"}
                splits[split].append((prompt, content, side))
                table.append((split, domain, seed_id, question, content))
    evals[0]["reference"] = None  # a task whose teacher answer did not pass
    for split, rows in splits.items():
        with (release_dir / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for prompt, content, side in rows:
                f.write(json.dumps({"messages": prompt + [{"role": "assistant", "content": content}], **side},
                                   ensure_ascii=False) + "\n")
        with (release_dir / "prompt_completion" / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for prompt, content, side in rows:
                f.write(json.dumps({"prompt": prompt, "completion": [{"role": "assistant", "content": content}],
                                    **side}, ensure_ascii=False) + "\n")
    with (release_dir / "eval.jsonl").open("w", encoding="utf-8") as f:
        for row in evals:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return pl.DataFrame(
        [{"release_version": version, "release_dir": str(release_dir.resolve()), "split": s, "domain": d,
          "seed_id": sid, "content_hash": f"{sid}-{i}", "user": u, "assistant": a}
         for i, (s, d, sid, u, a) in enumerate(table)]
    )


def stand_in_sft_export(table: pl.DataFrame):
    """An `sft_export` asset that returns the fixture release's table (stored in the real warehouse)."""

    @asset(name="sft_export", group_name="release")
    def sft_export() -> pl.DataFrame:
        return table

    return sft_export
