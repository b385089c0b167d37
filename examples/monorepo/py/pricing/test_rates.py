import pytest

from pricing import with_vat

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("rate, want", [(0, 100), (0.05, 105)])
def test_rates(rate, want):
    assert with_vat(100, rate) == want
