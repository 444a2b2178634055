"""``kgqa serve``: the HTTP service over one knowledge base.

A FastAPI app (``app.create_app``) over a ``service.Service`` that holds the KB and its models
once: the JSON API (``routes``), the OpenAI-compatible chat API (``compat``), bearer tokens with
scopes (``auth``), Prometheus metrics (``metrics``), the web page (``static/``) and a LlamaIndex
retriever (``llamaindex``); the ``serve`` and ``token`` commands are pipeline/cli/serve.py.
FastAPI and uvicorn come with the ``serve`` extra: ``pip install 'kgqa[serve]'``.
"""

from __future__ import annotations
