"""What earns points and badges: the rules, per programme, as configuration.

Rules live with the recognition service rather than in ``contracts.programmes``: only this
service reads them, and the people team tunes them without touching the other services. A
JSON file (``RECOGNITION_RULES_FILE``) replaces the defaults; a programme without rules of
its own uses ``default``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.recognition import PointsReason


class PointsRules(BaseModel):
    """Points per kind of recognised work, for one programme."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_mentored: int = Field(default=10, ge=0, description="Each host of a held 1:1 session.")
    session_attended: int = Field(default=2, ge=0, description="Each participant who was there.")
    office_hours_hosted: int = Field(default=5, ge=0, description="A held office-hours slot.")
    circle_led: int = Field(default=8, ge=0, description="The facilitator of a held circle session.")
    talk_given: int = Field(default=15, ge=0, description="A knowledge-sharing talk or workshop held.")
    reverse_mentoring: int = Field(default=12, ge=0, description="The junior host of a reverse session.")
    advisory_board_service: int = Field(default=8, ge=0, description="Each mentor of a board session.")
    good_feedback: int = Field(default=5, ge=0, description="A host whose session was rated well.")
    kudos_received: int = Field(default=3, ge=0, description="Each kudos a person receives.")
    good_feedback_rating: float = Field(
        default=4.0, ge=1, le=5, description="Average participant rating from which feedback counts as good."
    )

    def points(self, reason: PointsReason) -> int:
        """Points for one piece of work of this kind (corrections are never configured)."""
        value: int = getattr(self, reason.value)
        return value


class BadgeRules(BaseModel):
    """Thresholds of the badges that are not simply 'the first of its kind'."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    office_hours_regular: int = Field(default=5, ge=1, description="Office-hours slots held.")
    highly_rated_average: float = Field(default=4.5, ge=1, le=5, description="Average rating at least this.")
    highly_rated_minimum: int = Field(default=5, ge=1, description="Over at least this many ratings.")


class RecognitionRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: PointsRules = PointsRules()
    programmes: dict[str, PointsRules] = Field(default_factory=dict)
    badges: BadgeRules = BadgeRules()

    def for_programme(self, programme_id: str | None) -> PointsRules:
        """The programme's own rules, or the default ones."""
        if programme_id is None:
            return self.default
        return self.programmes.get(programme_id, self.default)


def rules_from_json(text: str | bytes) -> RecognitionRules:
    """Rules from the JSON text of a rules file."""
    return RecognitionRules.model_validate_json(text)
