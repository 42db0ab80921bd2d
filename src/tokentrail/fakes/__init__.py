"""Fake LLM provider APIs for the demo, tests and benchmarks: the real SDK clients talk to them
through their HTTP library's mock transport, so no key and no network are needed."""
