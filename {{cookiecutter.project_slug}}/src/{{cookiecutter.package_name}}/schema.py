"""The data contract: features, their valid ranges, the target, and the API's request bodies.

Data validation (`data.py`) and the drift reference (`bundle.py`) read the list `FEATURES`;
the service (`api.py`) validates each request with `Record`, which writes the same features
out as fields. Replacing the example dataset starts here: change both, in the same order
(`tests/test_api.py` checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1000


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


# The body of POST /predict: one record, every feature a number in its valid range. Anything
# else (a missing or unknown field, text, NaN, infinity, a value out of range) is a 422
# answer, never a call to the model. No docstring: it would become the OpenAPI description.
class Record(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"examples": [example_record()]},
    )
{%- if cookiecutter.task == "classification" %}

    alcohol: float = Field(description="Alcohol (% by volume)", ge=0, le=100)
    malic_acid: float = Field(description="Malic acid (g/l)", ge=0, le=100)
    ash: float = Field(description="Ash (g/l)", ge=0, le=100)
    alcalinity_of_ash: float = Field(description="Alcalinity of ash", ge=0, le=1000)
    magnesium: float = Field(description="Magnesium (mg/l)", ge=0, le=10000)
    total_phenols: float = Field(description="Total phenols", ge=0, le=100)
    flavanoids: float = Field(description="Flavanoids", ge=0, le=100)
    nonflavanoid_phenols: float = Field(description="Nonflavanoid phenols", ge=0, le=100)
    proanthocyanins: float = Field(description="Proanthocyanins", ge=0, le=100)
    color_intensity: float = Field(description="Color intensity", ge=0, le=100)
    hue: float = Field(description="Hue", ge=0, le=100)
    od280_od315_of_diluted_wines: float = Field(
        description="OD280/OD315 of diluted wines", ge=0, le=100
    )
    proline: float = Field(description="Proline (mg/l)", ge=0, le=100000)
{%- else %}

    age: float = Field(description="Age (scaled)", ge=-1, le=1)
    sex: float = Field(description="Sex (scaled)", ge=-1, le=1)
    bmi: float = Field(description="Body mass index (scaled)", ge=-1, le=1)
    bp: float = Field(description="Average blood pressure (scaled)", ge=-1, le=1)
    s1: float = Field(description="Total serum cholesterol (scaled)", ge=-1, le=1)
    s2: float = Field(description="Low-density lipoproteins (scaled)", ge=-1, le=1)
    s3: float = Field(description="High-density lipoproteins (scaled)", ge=-1, le=1)
    s4: float = Field(description="Total cholesterol / HDL (scaled)", ge=-1, le=1)
    s5: float = Field(description="Log of serum triglycerides (scaled)", ge=-1, le=1)
    s6: float = Field(description="Blood sugar level (scaled)", ge=-1, le=1)
{%- endif %}


# The body of POST /predict/batch: {"instances": [record, ...]}, 1 to MAX_BATCH records.
class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"instances": [example_record()]}]}
    )

    instances: list[Record] = Field(min_length=1, max_length=MAX_BATCH)
