import pytest

from pricing import with_vat


@pytest.mark.smoke
def test_with_vat():
    assert with_vat(100) == 120


@pytest.mark.regression
def test_rounds_half_cents():
    assert with_vat(5, rate=0.1) == 6
