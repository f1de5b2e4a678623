from django import forms


class RespondForm(forms.Form):
    """The comment only: the service decides whether it is required (it is, to reject)."""

    comment = forms.CharField(required=False, max_length=5000)
