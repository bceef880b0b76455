"""The fix catalogue: importing this package registers every fix (one per module)."""

from remediations.fixes import (  # noqa: F401 - imported for their @register side effect
    apache_handler_conflict,
    bisect_plugins,
    disable_xdebug,
    emergency_restart,
    fallback_theme,
    raise_fastcgi_buffers,
    realign_apache_handler,
    realign_fastcgi_pass,
    restart_fpm,
    size_max_children,
    socket_permissions,
)
from remediations.fixes.base import REGISTRY, Fix

__all__ = ["REGISTRY", "Fix"]
