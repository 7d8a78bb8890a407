"""The data contract: features, their valid ranges, and the target.

Data validation (`data.py`), the API request models (`api.py`) and the drift reference
(`bundle.py`) all read this one list: replacing the example dataset starts here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    example: float
    minimum: float | None = None
    maximum: float | None = None
{% if cookiecutter.task == "classification" %}

# scikit-learn's wine dataset: 178 wines from three cultivars of one Italian region.
FEATURES: tuple[Feature, ...] = (
    Feature("alcohol", "Alcohol (% by volume)", 14.23, 0, 100),
    Feature("malic_acid", "Malic acid (g/l)", 1.71, 0, 100),
    Feature("ash", "Ash (g/l)", 2.43, 0, 100),
    Feature("alcalinity_of_ash", "Alcalinity of ash", 15.6, 0, 1000),
    Feature("magnesium", "Magnesium (mg/l)", 127.0, 0, 10000),
    Feature("total_phenols", "Total phenols", 2.8, 0, 100),
    Feature("flavanoids", "Flavanoids", 3.06, 0, 100),
    Feature("nonflavanoid_phenols", "Nonflavanoid phenols", 0.28, 0, 100),
    Feature("proanthocyanins", "Proanthocyanins", 2.29, 0, 100),
    Feature("color_intensity", "Color intensity", 5.64, 0, 100),
    Feature("hue", "Hue", 1.04, 0, 100),
    Feature("od280_od315_of_diluted_wines", "OD280/OD315 of diluted wines", 3.92, 0, 100),
    Feature("proline", "Proline (mg/l)", 1065.0, 0, 100000),
)
TARGET = "target"
CLASSES: tuple[str, ...] = ("class_0", "class_1", "class_2")
{%- else %}

# scikit-learn's diabetes dataset: 442 patients, ten baseline variables (mean-centred and
# scaled), and a quantitative measure of disease progression one year later.
FEATURES: tuple[Feature, ...] = (
    Feature("age", "Age (scaled)", 0.0380759, -1, 1),
    Feature("sex", "Sex (scaled)", 0.0506801, -1, 1),
    Feature("bmi", "Body mass index (scaled)", 0.0616962, -1, 1),
    Feature("bp", "Average blood pressure (scaled)", 0.0218724, -1, 1),
    Feature("s1", "Total serum cholesterol (scaled)", -0.0442235, -1, 1),
    Feature("s2", "Low-density lipoproteins (scaled)", -0.0348208, -1, 1),
    Feature("s3", "High-density lipoproteins (scaled)", -0.0434008, -1, 1),
    Feature("s4", "Total cholesterol / HDL (scaled)", -0.00259226, -1, 1),
    Feature("s5", "Log of serum triglycerides (scaled)", 0.0199075, -1, 1),
    Feature("s6", "Blood sugar level (scaled)", -0.0176461, -1, 1),
)
TARGET = "target"
CLASSES: tuple[str, ...] = ()
# Valid range of the target (disease progression score).
TARGET_RANGE = (0.0, 1000.0)
{%- endif %}

FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)


def example_record() -> dict[str, float]:
    """One valid request body: the documented example of every feature."""
    return {feature.name: feature.example for feature in FEATURES}
