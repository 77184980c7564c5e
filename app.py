"""Groq Chat's entry point: the frame (navigation, sidebar), then the page. No logic here."""

from pages._common import frame, show_icon

frame().run()
show_icon()  # after the page: see pages/_common.py
