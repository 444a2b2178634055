"""Conversations over the facade: ``session`` (turns, focus, clarification, save/load) and
``followup`` (the pure rules that rewrite a follow-up into a stand-alone question)."""
