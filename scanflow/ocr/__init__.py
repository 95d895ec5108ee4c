"""Image processing and recognition: :mod:`preprocess` cleans, engines read, :mod:`reader`
joins the two and maps what was read back onto the faithful page."""
