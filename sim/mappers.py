"""The tile mappers' names (README "Two mappers"), for `simulate(..., mapper=)`, the CLI's
`--mapper` and a sweep spec's `mapper`: "fast" screens tilings by a closed-form estimate;
"exact" takes the least event-model time over tile choices nested across designs
(Coster(exact=True)), so the physics invariants hold by construction. No imports: the
API, the CLI and the spec schema read it without loading each other."""

MAPPERS = ("fast", "exact")
