"""Imports every module that adds tables to `schema.metadata`, so `create_all` and the T-SQL see them all."""
