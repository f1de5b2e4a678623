def portal(request) -> dict:
    return {}
