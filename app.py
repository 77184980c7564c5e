"""Groq Chat's entry point: the frame (navigation, sidebar), then the page. No logic here."""

from pages._common import frame

frame().run()
