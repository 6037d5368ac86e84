"""Attribution tags: validation, required-tag enforcement and span attributes."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping

from .. import conventions as c
from ..errors import TagError
from ..guard import OnceLog

DEFAULT_REQUIRED_TAGS: tuple[str, ...] = ("team", "model", "environment", "cost_center", "owner")
TRAINING_REQUIRED_TAGS: tuple[str, ...] = ("experiment_id",)
ENVIRONMENTS = frozenset({"prod", "staging", "dev", "experiment"})
# deployment.environment.name is free-form in the OTel conventions, so any value is accepted and
# kept as given on the span; reports group common long forms with the short form.
_ENVIRONMENT_GROUPS = {
    "production": "prod", "prd": "prod", "live": "prod",
    "stage": "staging", "stg": "staging", "preprod": "staging", "pre-production": "staging",
    "development": "dev", "devel": "dev", "local": "dev",
    "experiments": "experiment", "exp": "experiment", "research": "experiment",
}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MAX_VALUE = 256

Tags = dict[str, str]


class MissingTagsWarning(UserWarning):
    """A span lacks tags the configuration requires (on_missing_tags='warn')."""


def validate_tags(tags: Mapping[str, object] | None, where: str = "tags") -> Tags:
    """Check keys and values; return a plain str->str dict. Raises TagError naming the tag."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TagError(f"{where} must be a mapping of str to str, got {type(tags).__name__}")
    out: Tags = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise TagError(f"{where}: invalid tag key {key!r}: use lowercase letters, digits and "
                           "'_', starting with a letter, at most 63 characters")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TagError(f"{where}[{key!r}]: value must be a string, got {type(value).__name__}")
        text = str(value)
        if not text or len(text) > _MAX_VALUE or not text.isprintable():
            raise TagError(f"{where}[{key!r}]: value must be 1-{_MAX_VALUE} printable characters")
        out[key] = text
    return out


def environment_group(value: str) -> str:
    """The short form reports group an environment under: ``Production`` -> ``prod``; an
    environment with no common short form is its own group (lowercased)."""
    name = value.strip().lower()
    return _ENVIRONMENT_GROUPS.get(name, name)


_missing_warned = OnceLog()  # one warning per (what, missing tags)


def enforce_required(tags: Tags, required: Iterable[str], policy: str, what: str) -> None:
    """Apply on_missing_tags: 'error' raises TagError, 'warn' warns once per gap, 'ignore'."""
    if policy == "ignore":
        return
    missing = tuple(k for k in required if k not in tags)
    if not missing:
        return
    if policy == "error":
        raise TagError(f"{what} is missing required tags: {', '.join(missing)}")
    if _missing_warned.hit(f"{what}: {', '.join(missing)}"):
        warnings.warn(f"mlcost: {what} is missing required tags: {', '.join(missing)}",
                      MissingTagsWarning, stacklevel=4)


# OTel keeps 128 attributes a span by default and evicts the *oldest* past that: mlcost.kind
# first. Capping the user's tags keeps mlcost's own attributes (about 50 at most) on the span.
MAX_TAGS = 64
_capped_warned = OnceLog(max_sites=1)


def _capped(tags: Tags) -> Tags:
    first = [k for k in (*DEFAULT_REQUIRED_TAGS, *TRAINING_REQUIRED_TAGS) if k in tags]
    keep = first + [k for k in tags if k not in first][:MAX_TAGS - len(first)]
    if _capped_warned.hit("capped"):
        warnings.warn(f"mlcost: {len(tags)} tags on one span; only {MAX_TAGS} are kept "
                      f"(required ones first), so mlcost's own attributes survive the "
                      "span attribute limit. Dropped: "
                      + ", ".join(k for k in tags if k not in keep), stacklevel=4)
    return {k: tags[k] for k in keep}


def tag_attributes(tags: Tags) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        tags = _capped(tags)
    attrs = {c.tag_attribute(k): v for k, v in tags.items()}
    if "environment" in tags:
        attrs[c.DEPLOYMENT_ENVIRONMENT] = tags["environment"]
    return attrs
