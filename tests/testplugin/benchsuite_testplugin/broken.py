"""A plugin whose import fails, to show that the others still load."""
raise ImportError("this test plugin is broken on purpose")
