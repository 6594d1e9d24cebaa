"""Route modules, one per page (or page group); `review_ui.app` includes their routers."""
