"""Portal forms for workflow definitions: only the shape of the input; the definition's
own rules are the services' and validation's."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.workflows.formats import MAX_IMPORT_CHARS


class ImportForm(forms.Form):
    """A definition to import as a draft: an uploaded file or pasted text (JSON or YAML)."""

    file = forms.FileField(required=False, label="File (JSON or YAML)")
    text = forms.CharField(
        required=False,
        strip=False,
        label="Or paste JSON or YAML",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    name = forms.CharField(
        required=False,
        max_length=200,
        label="Name (optional)",
        help_text="Import under this name instead of the one in the definition.",
    )

    def clean_file(self) -> str | None:
        upload = self.cleaned_data.get("file")
        if not upload:
            return None
        # Four bytes per character is the most UTF-8 needs; the parser checks characters.
        if upload.size > MAX_IMPORT_CHARS * 4:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_CHARS * 4} bytes.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        has_file, has_text = bool(cleaned.get("file")), bool((cleaned.get("text") or "").strip())
        if has_file and has_text:
            raise forms.ValidationError("Give a file or pasted text, not both.")
        if not has_file and not has_text and not self.errors:
            raise forms.ValidationError("Choose a file or paste a definition to import.")
        return cleaned

    @property
    def document(self) -> str:
        return self.cleaned_data.get("file") or self.cleaned_data.get("text") or ""
