"""Pre-flight XDM validation: what AEP would throw into a failed batch is dead-lettered before sending.

In production DCS validates XDM asynchronously: a schema-invalid message gets a success entry in
the 207 and is dropped later. The connector therefore validates every mapped entity against the
mapping's resolved XDM schema first.

ref.py        what a mapping names as its schema (`schema:` / `validate:` keys)
prepare.py    the AEP-specific rules, made explicit: a resolved XDM schema -> a strict JSON Schema
validator.py  the compiled validator (jsonschema-rs) and violations with pointer, rule and schema version
registry.py   Schema Registry (xed-full) and Catalog client over the Platform API
cache.py      the on-disk copy of every fetched schema, so a restart during an AEP outage still validates
schemas.py    one live schema: loaded at start, refreshed on an interval and when a record fails
service.py    every mapping's schema resolved at start; the refresher thread
fields.py     static checks of a mapping against its schema (class, tenant, mapped fields it lacks)
mapper.py     ValidatingMapper: a Mapper that validates what the mapper it wraps produced
"""
