"""Failures are told as lesson results: every kind the classifier names is described."""

import re
from pathlib import Path

from lessons import errors


def test_every_error_kind_the_classifier_names_exists():
    source = Path(errors.__file__).read_text()
    named = set(re.findall(r'BY_KIND\["([a-z-]+)"\]', source))
    assert named <= set(errors.BY_KIND), named - set(errors.BY_KIND)
