"""pydash.objects stand-in: get, set_ and omit over dicts, lists and object attributes."""
import copy

_MISSING = object()


def _tokens(path):
    if isinstance(path, (list, tuple)):
        return list(path)
    if path is None:
        return []
    # "a.b[0].c" and "a.b.0.c" both address a list item.
    return [t for t in str(path).replace("[", ".").replace("]", "").split(".") if t != ""]


def _child(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        return obj.get(int(key), _MISSING) if isinstance(key, str) and key.lstrip("-").isdigit() else _MISSING
    if isinstance(obj, (list, tuple)):
        try:
            return obj[int(key)]
        except (ValueError, IndexError, TypeError):
            return _MISSING
    if isinstance(key, str) and hasattr(obj, key):
        return getattr(obj, key)
    return _MISSING


def get(obj, path, default=None):
    cur = obj
    for key in _tokens(path):
        if cur is None:
            return default
        cur = _child(cur, key)
        if cur is _MISSING:
            return default
    return cur


def set_(obj, path, value):
    keys = _tokens(path)
    cur = obj
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(cur, list):
            idx = int(key)
            while len(cur) <= idx:
                cur.append(None)
            if last:
                cur[idx] = value
            else:
                if cur[idx] is None:
                    cur[idx] = [] if keys[i + 1].isdigit() else {}
                cur = cur[idx]
        elif isinstance(cur, dict):
            if last:
                cur[key] = value
            else:
                if not isinstance(cur.get(key), (dict, list)):
                    cur[key] = [] if keys[i + 1].isdigit() else {}
                cur = cur[key]
        else:
            if last:
                setattr(cur, key, value)
            else:
                nxt = getattr(cur, key, None)
                if nxt is None:
                    nxt = {}
                    setattr(cur, key, nxt)
                cur = nxt
    return obj


def omit(obj, *paths):
    flat = []
    for p in paths:
        if isinstance(p, (list, tuple, set)):
            flat.extend(p)
        else:
            flat.append(p)
    out = copy.deepcopy(obj) if isinstance(obj, dict) else dict(getattr(obj, "__dict__", {}))
    for p in flat:
        keys = _tokens(p)
        cur = out
        for key in keys[:-1]:
            cur = cur.get(key) if isinstance(cur, dict) else None
            if cur is None:
                break
        if isinstance(cur, dict) and keys:
            cur.pop(keys[-1], None)
    return out
