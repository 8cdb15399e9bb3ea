"""Built-in metric plugins: anti-spoofing (:mod:`.spoof`), speaker verification
(:mod:`.verify`) and classification (:mod:`.classify`), on a shared numeric
core (:mod:`.det`, :mod:`.bootstrap`) that reproduces the official ASVspoof
scripts bit for bit."""
