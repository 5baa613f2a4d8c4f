"""The Ocktoreis domain: pure Python, no Flask, no Dramatiq."""
