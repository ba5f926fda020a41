"""The tag's cache key changes with every option that can change a tag and with every model's weights."""
import dataclasses

import pytest

from gifemo.cache_key import NOT_IN_KEY, tag_version
from gifemo.tagger import TagOptions

DIGESTS = {"face-landmarker": "a" * 64, "i3d-rgb": "missing"}


def _changed(value):
    """Another valid value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return {"fallback": "always", "always": "off", "off": "fallback", "dis": "tvl1"}.get(value, value + "x")
    raise TypeError(f"no rule to change a {type(value).__name__}: add one here")


def _leaves(options, path=(), owner=""):
    """(path of attribute names / dict keys, "Class.field") for every leaf option, through nested dataclasses
    and the per-stream dicts."""
    if dataclasses.is_dataclass(options):
        for field in dataclasses.fields(options):
            yield from _leaves(getattr(options, field.name), path + (field.name,), f"{type(options).__name__}.{field.name}")
    elif isinstance(options, dict):
        for key, value in options.items():
            yield from _leaves(value, path + (key,), f"{owner}[{key}]")
    else:
        yield path, owner


def _with(options, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(options, dict):
        return {**options, head: _with(options[head], rest, value)}
    return dataclasses.replace(options, **{head: _with(getattr(options, head), rest, value)})


def _get(options, path):
    for key in path:
        options = options[key] if isinstance(options, dict) else getattr(options, key)
    return options


# Every stream on, so that every stream's options are part of the key.
BASE = TagOptions(run={"face": "always", "action": "always"})
LEAVES = list(_leaves(BASE))


@pytest.mark.parametrize("path,name", LEAVES, ids=["/".join(map(str, path)) for path, _ in LEAVES])
def test_every_option_is_in_the_key_unless_listed(path, name):
    base = BASE
    changed = _with(base, path, _changed(_get(base, path)))
    if name in NOT_IN_KEY:
        assert tag_version(changed, DIGESTS) == tag_version(base, DIGESTS)
    else:
        assert tag_version(changed, DIGESTS) != tag_version(base, DIGESTS), f"{name} is not in the cache key"


def test_exclusions_name_real_fields():
    assert NOT_IN_KEY <= {name for _, name in LEAVES}
    assert len(LEAVES) >= 15  # the limits, the run modes and both streams' options were all reached


def test_model_digests_are_in_the_key():
    base = tag_version(TagOptions(), DIGESTS)
    assert tag_version(TagOptions(), {**DIGESTS, "face-landmarker": "b" * 64}) != base
    assert tag_version(TagOptions(), {**DIGESTS, "i3d-rgb": "present"}) != base
    assert tag_version(TagOptions(), dict(DIGESTS)) == base
