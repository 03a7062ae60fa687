"""Prompts as files, referenced by name and version (`risk_explain.v1.md`); bot.llm.prompts reads them."""
