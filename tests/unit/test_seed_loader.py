"""Seed file loading: every kind of bad input gives one clear error naming file, line, item and field."""

from pathlib import Path

import pytest

from anka_assets.seed_loader import (
    SeedFileError,
    list_seed_files,
    load_seed_file,
    seed_id_for,
)
from tests.conftest import write_seed

GOOD = "Türk Borçlar Kanunu'na göre borçlu temerrüdünün şartlarını açıklayınız."


def load(tmp_path: Path, body: str, domain: str = "hukuk"):
    return load_seed_file(write_seed(tmp_path, domain, body))


def error_of(tmp_path: Path, body: str, domain: str = "hukuk") -> str:
    with pytest.raises(SeedFileError) as info:
        load(tmp_path, body, domain)
    message = str(info.value)
    assert f"{domain}.yaml" in message  # always names the file
    return message


def test_good_file(tmp_path):
    result = load(tmp_path, f"""
        domain: hukuk
        description: "Türk hukuku"
        tasks:
          - instruction: "{GOOD}"
            sensitivity: public
            tags: [borclar_hukuku, aciklama]
            source: "6098 sayılı TBK m. 117"
        """)
    (task,) = result.tasks
    assert task.instruction == GOOD
    assert task.sensitivity == "public" and not task.sensitivity_defaulted
    assert task.tags == ("borclar_hukuku", "aciklama")
    assert task.source == "6098 sayılı TBK m. 117"
    assert task.source_line == 4


@pytest.mark.parametrize(("written", "label"), [("PUBLIC", "public"), ("Internal", "internal"), ("CONFİDENTİAL", "confidential")])
def test_sensitivity_labels_are_case_insensitive_in_both_alphabets(tmp_path, written, label):
    result = load(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivity: {written}
        """)
    assert result.tasks[0].sensitivity == label


def test_missing_sensitivity_means_confidential(tmp_path):
    result = load(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
        """)
    assert result.tasks[0].sensitivity == "confidential"
    assert result.tasks[0].sensitivity_defaulted
    assert result.sensitivity_defaulted == 1


def test_duplicates_collapse_with_turkish_case_and_keep_the_strictest_label(tmp_path):
    result = load(tmp_path, """
        tasks:
          - instruction: "DİYARBAKIR surlarının tarihî önemini açıklayınız."
            sensitivity: public
          - instruction: "diyarbakır   surlarının tarihî önemini açıklayınız"
            sensitivity: internal
          - instruction: "Diyarbakır Surları'nın tarihî önemini açıklayınız!"
            sensitivity: public
        """)
    assert len(result.tasks) == 1
    assert result.duplicates_collapsed == 2
    assert result.tasks[0].sensitivity == "internal"
    assert result.tasks[0].instruction.startswith("DİYARBAKIR")


def test_mojibake_is_repaired_and_counted(tmp_path):
    result = load(tmp_path, """
        tasks:
          - instruction: "Osmanlý Ýmparatorluðu'nun baþkenti neden Ýstanbul'a taþýndý, açıklayınız."
            sensitivity: public
          - instruction: "TÃ¼rkiye Cumhuriyeti'nin ilk anayasasÄ±nÄ± açıklayınız."
            sensitivity: public
        """)
    assert [t.instruction for t in result.tasks] == [
        "Osmanlı İmparatorluğu'nun başkenti neden İstanbul'a taşındı, açıklayınız.",
        "Türkiye Cumhuriyeti'nin ilk anayasasını açıklayınız.",
    ]
    assert result.repaired == 2


def test_seed_id_is_stable_across_spelling_variants():
    a = seed_id_for("tarih", "Tanzimat Fermanı'nın önemini açıklayınız.")
    b = seed_id_for("tarih", "  TANZİMAT FERMANI'NIN   önemini açıklayınız ")
    assert a == b
    # Pinned value: the same task text must give the same id on any machine and version.
    assert a == "tsk_" + __import__("hashlib").sha256(
        "tarih\x1ftanzimat fermanının önemini açıklayınız".encode()
    ).hexdigest()[:16]
    assert seed_id_for("hukuk", "Tanzimat Fermanı'nın önemini açıklayınız.") != a


# --- one test per bad-input kind ------------------------------------------------------------------

def test_yaml_syntax_error(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          - instruction: "açık tırnak
            sensitivity: public
        """)
    # The quote opened at 2:18 swallows the next line; PyYAML gives up at the end of the file.
    assert "hukuk.yaml:2:18: YAML syntax error (a quote is not closed)" in message


def test_not_utf8(tmp_path):
    path = tmp_path / "hukuk.yaml"
    path.write_bytes("tasks:\n  - instruction: \"Türk hukukunda zamanaşımı\"\n".encode("cp1254"))
    with pytest.raises(SeedFileError, match=r"hukuk\.yaml:2:20: the file is not valid UTF-8"):
        load_seed_file(path)


def test_empty_instruction(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          - instruction: "   "
            sensitivity: public
        """)
    assert "hukuk.yaml:2:18: task 1, field 'instruction': empty or too short" in message


def test_over_long_instruction(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{'uzun görev metni ' * 200}"
            sensitivity: public
        """)
    assert "hukuk.yaml:2:18: task 1, field 'instruction': too long" in message


def test_unknown_sensitivity(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivity: gizli
        """)
    assert "hukuk.yaml:3:18: task 1, field 'sensitivity': unknown value 'gizli'" in message


def test_missing_instruction(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          - sensitivity: public
            tags: [a]
        """)
    assert "hukuk.yaml:2:5: task 1, field 'instruction': missing" in message


def test_missing_tasks(tmp_path):
    message = error_of(tmp_path, """
        domain: hukuk
        description: "görev listesi yok"
        """)
    assert "field 'tasks': missing" in message


def test_wrong_type_instruction(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          - instruction: 12345
            sensitivity: public
        """)
    assert "hukuk.yaml:2:18: task 1, field 'instruction': expected a string, got a number" in message


def test_wrong_type_tags(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivity: public
            tags: "borclar"
        """)
    assert "hukuk.yaml:4:11: task 1, field 'tags': expected a list of strings, got a string" in message


def test_wrong_type_item(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivity: public
          - "sadece bir metin"
        """)
    assert "hukuk.yaml:4:5: task 2: expected a mapping" in message


def test_tasks_not_a_list(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          instruction: "liste değil"
        """)
    assert "field 'tasks': expected a list of tasks, got a mapping" in message


def test_unknown_field_is_a_typo(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivty: public
        """)
    assert "hukuk.yaml:3:5: task 1, field 'sensitivty': unknown field" in message


def test_domain_must_match_file_name(tmp_path):
    message = error_of(tmp_path, f"""
        domain: tarih
        tasks:
          - instruction: "{GOOD}"
            sensitivity: public
        """)
    assert "hukuk.yaml:1:9: field 'domain': 'tarih' does not match the file name 'hukuk.yaml'" in message


def test_unrepairable_mojibake(tmp_path):
    message = error_of(tmp_path, """
        tasks:
          - instruction: "Bu metin bozuk \ufffd\ufffd ve onarılamaz, açıklayınız."
            sensitivity: public
        """)
    assert "hukuk.yaml:2:18: task 1, field 'instruction': garbled text that cannot be repaired" in message


def test_empty_file(tmp_path):
    message = error_of(tmp_path, "\n")
    assert "the file is empty" in message


def test_all_problems_of_a_file_are_listed_together(tmp_path):
    message = error_of(tmp_path, f"""
        tasks:
          - instruction: "{GOOD}"
            sensitivity: secret
          - instruction: 7
        """)
    # One line per problem, each starting with the file and its place, as a compiler prints them.
    lines = message.splitlines()
    assert len(lines) == 2 and all(line.startswith(str(tmp_path / "hukuk.yaml") + ":") for line in lines)
    assert "hukuk.yaml:3:18: task 1, field 'sensitivity'" in lines[0]
    assert "hukuk.yaml:4:18: task 2, field 'instruction'" in lines[1]


def test_bad_file_names_are_refused(tmp_path):
    write_seed(tmp_path, "Hukuk Tarihi", f"tasks:\n  - instruction: \"{GOOD}\"\n")
    with pytest.raises(ValueError, match="rename: Hukuk Tarihi.yaml"):
        list_seed_files(tmp_path)


# --- the curated seed files shipped with the project ---------------------------------------------

REPO_SEEDS = Path(__file__).resolve().parents[2] / "data" / "seeds"
DOMAINS = ["hukuk", "tarih", "ekonomi", "cografya", "edebiyat", "saglik", "finans", "kamu_yonetimi"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_shipped_seed_files_are_valid(domain):
    result = load_seed_file(REPO_SEEDS / f"{domain}.yaml")
    assert len(result.tasks) >= 50
    assert result.duplicates_collapsed == 0 and result.repaired == 0
    labels = {t.sensitivity for t in result.tasks}
    assert {"public", "internal", "confidential"} <= labels


def test_domain_label_comes_from_the_seed_file_and_travels_in_the_table(tmp_path):
    """The file's `label` is read once, by the loader; the table carries it (`domain_label`) to every
    later stage, with the key's default where the file names none."""
    import polars as pl

    from anka_assets.assets.curated_seeds import domain_labels, tasks_frame, with_domain_label
    from anka_assets.seed_loader import default_domain_label

    (tmp_path / "kamu_yonetimi.yaml").write_text(
        'label: "Kamu Yönetimi"\ntasks:\n  - instruction: "Sayıştay denetiminin kapsamını açıklayınız."\n'
        "    sensitivity: public\n", encoding="utf-8")
    (tmp_path / "tarih.yaml").write_text(
        'tasks:\n  - instruction: "Lozan Antlaşması\'nın önemini açıklayınız."\n    sensitivity: public\n',
        encoding="utf-8")
    kamu, tarih = (load_seed_file(tmp_path / f"{d}.yaml") for d in ("kamu_yonetimi", "tarih"))
    assert kamu.label == "Kamu Yönetimi" and tarih.label is None
    table = pl.concat([tasks_frame(kamu.tasks, label=kamu.label), tasks_frame(tarih.tasks, label=tarih.label)])
    assert table["domain_label"].to_list() == ["Kamu Yönetimi", "Tarih"]
    assert domain_labels(table) == {"kamu_yonetimi": "Kamu Yönetimi", "tarih": "Tarih"}
    # A table written before the column existed (NULL there, or no column at all) reads the default.
    older = table.with_columns(domain_label=pl.lit(None, dtype=pl.Utf8))
    assert domain_labels(older) == domain_labels(table.drop("domain_label")) == {
        "kamu_yonetimi": "Kamu yonetimi", "tarih": "Tarih"}
    assert with_domain_label(table.clear())["domain_label"].to_list() == []
    assert default_domain_label("kamu_yonetimi") == "Kamu yonetimi"
    (tmp_path / "tarih.yaml").write_text('label: [1]\ntasks:\n  - instruction: "x"\n', encoding="utf-8")
    with pytest.raises(SeedFileError, match=r"tarih\.yaml:1:8: field 'label': expected a string"):
        load_seed_file(tmp_path / "tarih.yaml")


def test_every_shipped_seed_file_names_its_label():
    labels = {d: load_seed_file(REPO_SEEDS / f"{d}.yaml").label for d in DOMAINS}
    assert labels["kamu_yonetimi"] == "Kamu Yönetimi" and labels["cografya"] == "Coğrafya"
    assert all(labels.values())


# --- where a broken file is broken: line:column as an editor shows them, tasks counted from 1 -------

THREE_TASKS = """\
domain: hukuk
label: "Hukuk"
tasks:
  - instruction: "Türk Borçlar Kanunu'na göre temerrüdün şartlarını açıklayınız."
    sensitivity: public
  - instruction: "Anayasa Mahkemesi'ne bireysel başvurunun şartlarını açıklayınız."
    sensitivity: internal
  - instruction: "İdari yargıda iptal davasının açılma süresini açıklayınız."
    sensitivity: public
"""
FIRST = "\"Türk Borçlar Kanunu'na göre temerrüdün şartlarını açıklayınız.\""


def problems_of(tmp_path: Path, old: str, new: str) -> list[str]:
    """The message lines for THREE_TASKS with one piece of text replaced, written as is (no dedent)."""
    assert old in THREE_TASKS
    path = tmp_path / "hukuk.yaml"
    path.write_text(THREE_TASKS.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SeedFileError) as info:
        load_seed_file(path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(f"{path}:") for line in lines), lines
    return [line[len(str(path)) - len("hukuk.yaml"):] for line in lines]  # "hukuk.yaml:L:C: ..."


@pytest.mark.parametrize(("old", "new", "place", "says"), [
    # Scanner error: the last task's quote is never closed; PyYAML notices at the end of the file (10:1).
    ("süresini açıklayınız.\"", "süresini açıklayınız.", "8:18",
     "(a quote is not closed): while scanning a quoted scalar starting here, found unexpected end of stream at 10:1"),
    # Parser error: an unclosed quote closed by the next task's opening one (PyYAML gives up at 6:19).
    (FIRST + "\n    sensitivity: public\n  - instruction: \"Anayasa",
     FIRST[:-1] + "\n    sensitivity: public\n  - instruction: \"Anayasa", "4:18", "closed only by the one at 6:18"),
    # Scanner error where it happens: a second colon in a value.
    ("sensitivity: internal", "sensitivity: internal: evet", "7:26", "mapping values are not allowed here"),
    # Parser error where it happens: a key indented deeper than the task's first key.
    ("    sensitivity: internal", "      sensitivity: internal", "7:7", "expected <block end>"),
    # Scanner error: a tab used for indentation.
    ("    sensitivity: internal", "\tsensitivity: internal", "7:1", "found character '\\t'"),
])
def test_yaml_errors_name_the_place_to_fix(tmp_path, old, new, place, says):
    (line,) = problems_of(tmp_path, old, new)
    assert line.startswith(f"hukuk.yaml:{place}: YAML syntax error"), line
    assert says in line, line


def test_bad_fields_in_task_3_are_task_3_at_their_line_and_column(tmp_path):
    lines = problems_of(tmp_path, "İdari yargıda iptal davasının açılma süresini açıklayınız.\"\n    sensitivity: public",
                        "İdari yargıda iptal davasının açılma süresini açıklayınız.\"\n    sensitivity: gizli\n"
                        "    tagz: [a]")
    assert lines == [
        "hukuk.yaml:10:5: task 3, field 'tagz': unknown field (allowed: instruction, sensitivity, tags, source)",
        "hukuk.yaml:9:18: task 3, field 'sensitivity': unknown value 'gizli' (allowed: public, internal, "
        "confidential; leave it out to mean confidential)",
    ]
    assert problems_of(tmp_path, "\"İdari yargıda iptal davasının açılma süresini açıklayınız.\"", "42") == [
        "hukuk.yaml:8:18: task 3, field 'instruction': expected a string, got a number"]
