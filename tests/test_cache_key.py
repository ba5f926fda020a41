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
    if isinstance(value, (tuple, list)):
        return type(value)(list(value) + [value[-1] if value else 1])
    raise TypeError(f"no rule to change a {type(value).__name__}: add one here")


def _fields(options, path=()):
    """(path of attribute names, owning dataclass) for every leaf field, through nested options."""
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value):
            yield from _fields(value, path + (field.name,))
        else:
            yield path + (field.name,), f"{type(options).__name__}.{field.name}"


def _with(options, path, value):
    if len(path) == 1:
        return dataclasses.replace(options, **{path[0]: value})
    return dataclasses.replace(options, **{path[0]: _with(getattr(options, path[0]), path[1:], value)})


def _get(options, path):
    for name in path:
        options = getattr(options, name)
    return options


LEAVES = list(_fields(TagOptions()))


@pytest.mark.parametrize("path,name", LEAVES, ids=[name for _, name in LEAVES])
def test_every_option_is_in_the_key_unless_listed(path, name):
    base = TagOptions()
    changed = _with(base, path, _changed(_get(base, path)))
    if name in NOT_IN_KEY:
        assert tag_version(changed, DIGESTS) == tag_version(base, DIGESTS)
    else:
        assert tag_version(changed, DIGESTS) != tag_version(base, DIGESTS), f"{name} is not in the cache key"


def test_exclusions_name_real_fields():
    assert NOT_IN_KEY <= {name for _, name in LEAVES}


def test_model_digests_are_in_the_key():
    base = tag_version(TagOptions(), DIGESTS)
    assert tag_version(TagOptions(), {**DIGESTS, "face-landmarker": "b" * 64}) != base
    assert tag_version(TagOptions(), {**DIGESTS, "i3d-rgb": "present"}) != base
    assert tag_version(TagOptions(), dict(DIGESTS)) == base
