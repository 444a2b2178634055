"""Conversations over the facade: ``session`` (turns, focus, clarification, save/load, persistence by
id), ``followup`` (the pure rules that rewrite a follow-up into a stand-alone question), ``state``
(every entity of every turn, for references further back), ``intents`` (what a message is),
``replies`` (what is said to non-questions) and ``store`` (where sessions persist)."""
