"""CLI conventions: every failure is one line naming the file and the problem, with a non-zero exit;
--debug shows the traceback instead."""
import subprocess
import sys


def gifemo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gifemo", *args], capture_output=True, text=True, cwd=cwd)


def _one_error_line(run, command: str, *words: str) -> None:
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith(f"gifemo {command}: error:")]
    assert len(errors) == 1 and all(word in errors[0] for word in words), run.stderr
    assert "Traceback" not in run.stderr


def test_tag_on_a_folder_without_gifs(tmp_path):
    (tmp_path / "notes.txt").write_text("no GIF here")
    _one_error_line(gifemo("tag", str(tmp_path), "--db", str(tmp_path / "c.db")), "tag", str(tmp_path), "no GIFs")


def test_evaluate_on_an_empty_folder(tmp_path):
    _one_error_line(gifemo("evaluate", str(tmp_path), "--json", str(tmp_path / "r.json")), "evaluate", str(tmp_path))


def test_show_a_missing_file_and_debug_shows_where(tmp_path):
    missing = str(tmp_path / "absent.gif")
    _one_error_line(gifemo("show", missing), "show", missing, "no such file")
    assert "Traceback" in gifemo("show", missing, "--debug").stderr
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    _one_error_line(gifemo("show", str(gif), "--db", str(tmp_path / "typo.db")), "show",
                    f"{tmp_path / 'typo.db'}: no corpus there")


def test_models_path_offline_for_a_missing_model(tmp_path):
    run = subprocess.run([sys.executable, "-m", "gifemo", "models", "path", "i3d-rgb", "--offline"],
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "GIFEMO_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert run.returncode == 1 and "rgb_imagenet.pt" in run.stderr and "--offline" in run.stderr


def test_suggest_without_a_message_says_what_to_give(tmp_path):
    run = gifemo("suggest", "--db", str(tmp_path / "c.db"))
    _one_error_line(run, "suggest", "give either a message or --input FILE")
    assert "not both" not in run.stderr   # neither was given


def test_an_option_out_of_range_is_a_usage_error_not_a_failed_file(tmp_path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    run = gifemo("tag", str(gif), "--db", str(tmp_path / "c.db"), "--frames", "0")
    assert run.returncode == 2 and "argument --frames: must be at least 1, not 0" in run.stderr
    assert not (tmp_path / "c.db").exists()   # no file was marked as failed for it
    run = gifemo("evaluate", str(tmp_path), "--json", str(tmp_path / "r.json"), "--near-duplicate", "-1")
    assert run.returncode == 2 and "argument --near-duplicate: must be 0 or more" in run.stderr


def test_evaluate_names_where_an_unknown_label_is(tmp_path):
    (tmp_path / "set" / "Happy").mkdir(parents=True)
    (tmp_path / "set" / "misc").mkdir()
    _one_error_line(gifemo("evaluate", str(tmp_path / "set"), "--json", str(tmp_path / "r.json")), "evaluate",
                    f"{tmp_path / 'set' / 'misc'}: unknown emotion label 'misc'")
    (tmp_path / "set.csv").write_text("file,label\na.gif,happy\nb.gif,furious\n")
    _one_error_line(gifemo("evaluate", str(tmp_path / "set.csv"), "--json", str(tmp_path / "r.json")), "evaluate",
                    f"{tmp_path / 'set.csv'}, line 3: unknown emotion label 'furious'")


def test_output_closed_by_its_reader_stops_quietly():
    """`gifemo models list | head -1`: the reader leaves early; no traceback, no error line, the shell's 141."""
    proc = subprocess.Popen([sys.executable, "-m", "gifemo", "models", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()   # gone before the first line is written
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and stderr == ""


def test_an_unknown_model_name_is_a_usage_error():
    run = gifemo("models", "path", "no-such-model")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("gifemo models: error: unknown model 'no-such-model'; known: face-landmarker")


def test_no_tag_needs_an_existing_corpus(tmp_path):
    (tmp_path / "set.csv").write_text("file,label\na.gif,happy\nb.gif,sad\n")
    run = gifemo("evaluate", str(tmp_path / "set.csv"), "--json", str(tmp_path / "r.json"), "--no-tag")
    assert run.returncode == 2 and "--no-tag reads the evidence of an existing corpus: give it with --db" in run.stderr
    absent = tmp_path / "absent.db"
    run = gifemo("train", "decision", "--data", str(tmp_path / "set.csv"), "--db", str(absent), "--no-tag",
                 "--out", str(tmp_path / "fit"))
    assert run.returncode == 2 and f"no corpus at {absent}" in run.stderr
    assert not absent.exists() and not (tmp_path / "r.json").exists()


def test_annotate_never_writes_over_its_input(tmp_path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a stays as it is")
    _one_error_line(gifemo("annotate", str(gif), str(tmp_path / "." / "a.gif")), "annotate",
                    "writing it would overwrite the input")
    assert gif.read_bytes() == b"GIF89a stays as it is"


def test_tag_never_writes_its_jsonl_over_the_corpus(tmp_path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    db = tmp_path / "c.db"
    db.write_bytes(b"a corpus")
    _one_error_line(gifemo("tag", str(gif), "--db", str(db), "--jsonl", str(tmp_path / "." / "c.db")), "tag",
                    "writing it would overwrite the corpus")
    assert db.read_bytes() == b"a corpus"


def test_evaluate_never_writes_its_report_over_its_data_set(tmp_path):
    dataset = tmp_path / "set.csv"
    dataset.write_text("file,label\na.gif,happy\n")
    _one_error_line(gifemo("evaluate", str(dataset), "--json", str(dataset)), "evaluate",
                    "writing it would overwrite the data set")
    assert dataset.read_text() == "file,label\na.gif,happy\n"
