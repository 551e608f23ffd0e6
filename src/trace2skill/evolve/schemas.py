"""What the models are asked to return, and what the pipeline keeps of it.

The `*Out` models are the structured-output schemas sent to providers: flat, explicit fields with
plain types, so that strict JSON-schema modes accept them. Limits the schema cannot express well
(at most three lessons) are enforced by code after validation, with a note of what was cut.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from trace2skill.models import Edit, EditOp, Patch

__all__ = [
    "MAX_LESSONS",
    "Analysis",
    "Cause",
    "DraftFile",
    "DraftOut",
    "EditOut",
    "ErrorAnalysisOut",
    "Lesson",
    "MergedEditOut",
    "MergedPatchOut",
    "PatchOut",
    "SuccessAnalysisOut",
]

MAX_LESSONS = 3


class Lesson(BaseModel):
    title: str
    description: str = ""
    content: str

    def text(self) -> str:
        return f"{self.title}\n{self.description}\n{self.content}"


class Cause(BaseModel):
    title: str
    description: str = ""


class ErrorAnalysisOut(BaseModel):
    causes: list[Cause] = Field(default_factory=list)
    lessons: list[Lesson] = Field(default_factory=list)
    fix_confirmed: bool = False


class SuccessAnalysisOut(BaseModel):
    solution_path: str = ""
    lessons: list[Lesson] = Field(default_factory=list)


class Analysis(BaseModel):
    """One trajectory's analysis as stored with the run; `lessons` is empty when it teaches nothing."""

    trajectory_id: str
    index: int
    kind: Literal["error", "success"]
    mode: Literal["agentic", "single"]
    causes: list[Cause] = Field(default_factory=list)
    lessons: list[Lesson] = Field(default_factory=list)
    solution_path: str = ""
    confirmed: bool | None = Field(default=None, description="None when no evaluator could check a fix")
    turns: int = 0
    dropped: list[str] = Field(default_factory=list, description="Why lessons were thrown away")
    evaluator: str | None = Field(default=None, description="What checked the fixes: a scorer's name or the judge")
    sandbox: str | None = Field(default=None, description="Sandbox mode of the work folder: 'bwrap' or 'process'")


class EditOut(BaseModel):
    file: str
    op: EditOp
    target_section: str | None = None
    target_text: str | None = None
    old_text: str | None = None
    after_section: str | None = None
    content: str | None = None

    def to_edit(self) -> Edit:
        data = {k: (v if v != "" else None) for k, v in self.model_dump(exclude={"sources"}).items()}
        data["file"] = self.file
        data["op"] = self.op
        return Edit.model_validate(data)


class PatchOut(BaseModel):
    reasoning: str = ""
    edits: list[EditOut] = Field(default_factory=list)
    changelog: list[str] = Field(default_factory=list)

    def to_patch(self) -> Patch:
        return Patch(edits=[e.to_edit() for e in self.edits], reasoning=self.reasoning, changelog=self.changelog)


class MergedEditOut(EditOut):
    sources: list[str] = Field(default_factory=list)

    def to_edit(self) -> Edit:
        return super().to_edit().model_copy(update={"sources": list(self.sources)})


class MergedPatchOut(BaseModel):
    reasoning: str = ""
    edits: list[MergedEditOut] = Field(default_factory=list)
    changelog: list[str] = Field(default_factory=list)

    def to_patch(self) -> Patch:
        return Patch(edits=[e.to_edit() for e in self.edits], reasoning=self.reasoning, changelog=self.changelog)


class DraftFile(BaseModel):
    path: str
    content: str


class DraftOut(BaseModel):
    description: str
    body: str
    references: list[DraftFile] = Field(default_factory=list)
