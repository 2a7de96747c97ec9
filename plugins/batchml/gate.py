"""The evaluation gate: may the newly trained model (challenger) replace the current one (champion)?

All errors are WAPE on the holdout window (lower is better). The challenger ships only if:

1. its WAPE is at most ``max_wape`` (an absolute quality bar);
2. it beats the seasonal-naive baseline by ``min_improvement_over_baseline`` (relative: 0.05 means
   at least 5% lower WAPE than the baseline);
3. it is not worse than the champion by more than ``champion_tolerance`` WAPE points (absolute), when
   there is a champion that could be scored.

If the challenger is rejected, the champion predicts instead only if it passes rules 1 and 2 itself on the
same holdout: the model that predicts is always one that meets the bar today, not one that met it once. If
neither qualifies, nothing is published and the run fails with all three models' errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    use: str  # "challenger" | "champion" | "none"
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c["detail"] for c in self.checks if not c["passed"]]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": self.reasons}


def decide(evaluation: dict[str, Any], *, max_wape: float, min_improvement_over_baseline: float,
           champion_tolerance: float) -> GateDecision:
    models = evaluation["models"]
    challenger = models["challenger"]["wape"]
    baseline = models["baseline"]["wape"]
    champion_metrics = models.get("champion") or {}
    champion = champion_metrics.get("wape")
    bar = baseline * (1 - min_improvement_over_baseline)
    checks = [
        {"name": "absolute", "passed": challenger <= max_wape,
         "detail": f"challenger WAPE {challenger:.4f} vs maximum {max_wape:.4f}"},
        {"name": "baseline", "passed": challenger <= bar,
         "detail": f"challenger WAPE {challenger:.4f} vs baseline {baseline:.4f} "
                   f"less {min_improvement_over_baseline:.0%} = {bar:.4f}"},
    ]
    if champion is not None:
        checks.append({"name": "champion", "passed": challenger <= champion + champion_tolerance,
                       "detail": f"challenger WAPE {challenger:.4f} vs champion {champion:.4f} "
                                 f"+ {champion_tolerance:.4f} tolerance"})
    approved = all(c["passed"] for c in checks)
    has_champion = bool(champion_metrics.get("model_package_arn"))
    if approved or not has_champion:
        return GateDecision(approved=approved, use="challenger" if approved else "none", checks=checks)
    # The challenger is out; the champion may predict only if it meets the same bar on today's holdout.
    if champion is None:
        checks.append({"name": "champion_scored", "passed": False,
                       "detail": "the champion could not be scored on the holdout"})
    else:
        checks += [
            {"name": "champion_absolute", "passed": champion <= max_wape,
             "detail": f"champion WAPE {champion:.4f} vs maximum {max_wape:.4f}"},
            {"name": "champion_baseline", "passed": champion <= bar,
             "detail": f"champion WAPE {champion:.4f} vs baseline {baseline:.4f} "
                       f"less {min_improvement_over_baseline:.0%} = {bar:.4f}"},
        ]
    champion_ok = all(c["passed"] for c in checks if c["name"].startswith("champion_"))
    return GateDecision(approved=False, use="champion" if champion_ok else "none", checks=checks)


def summary(evaluation: dict[str, Any]) -> str:
    """All three models' WAPE on the holdout, for a message."""
    models = evaluation["models"]
    parts = []
    for name in ("challenger", "champion", "baseline"):
        wape = (models.get(name) or {}).get("wape")
        parts.append(f"{name} {wape:.4f}" if isinstance(wape, (int, float)) else f"{name} none")
    return "WAPE on the holdout: " + ", ".join(parts)
