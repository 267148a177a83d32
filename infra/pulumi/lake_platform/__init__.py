"""The lakelib platform on AWS: one ``pulumi.ComponentResource`` per layer of the architecture.

``__main__.py`` builds :class:`~lake_platform.settings.PlatformSettings` once and wires the
components in dependency order; each component takes a typed args dataclass, names its
children from its own name and parents them to itself.

The package is not called ``platform`` because Pulumi puts the program folder first on
``sys.path``, where that name would shadow the standard library module of the same name.
"""
