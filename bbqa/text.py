"""What text formats cannot hold, for the writers of XML.

Example:
    >>> bool(XML_FORBIDDEN.search("car\\x01")), bool(XML_FORBIDDEN.search("café\\n"))
    (True, False)
"""

from __future__ import annotations

import re

# Characters XML 1.0 has no way to write, not even as a character reference.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
