"""The ILL refusal tree: stable codes, drawn in the docstring, the userErrors shape."""

from kallimachos.domain import ill_errors
from kallimachos.domain.errors import Refusal, RefusalCode
from kallimachos.domain.ill_errors import IllRefusal, IllRefusalCode, IllSupplierLimit


def leaves() -> list[type[IllRefusal]]:
    classes = [getattr(ill_errors, name) for name in ill_errors.__all__]
    refusals = [c for c in classes if isinstance(c, type) and issubclass(c, IllRefusal)]
    return [c for c in refusals if "code" in vars(c)]


def test_every_ill_code_has_one_class_drawn_in_the_tree() -> None:
    assert sorted(c.code for c in leaves()) == sorted(IllRefusalCode)
    doc = ill_errors.__doc__ or ""
    for cls in leaves():
        assert issubclass(cls, Refusal)
        assert cls.__name__ in doc
        assert f"[{cls.code.value}]" in doc
    assert not set(IllRefusalCode) & {c.value for c in RefusalCode}


def test_ill_refusal_user_error_shape() -> None:
    refusal = IllSupplierLimit(message="15 of 15", rule="CUT-B2")
    assert refusal.user_error() == {
        "code": "ILL_SUPPLIER_LIMIT",
        "message": "15 of 15",
        "rule": "CUT-B2",
        "field": None,
    }
