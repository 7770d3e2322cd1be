"""drift: what differs between a deployed stack's template and its live resources.

`declared` reads the values a deployed template declares (Refs resolved to physical ids),
`compare` sets them beside the live values `nami_action.aws.live` read, `model` holds the
findings every renderer reads. All pure: no AWS call happens in this package except in
`detect` and `restore`, which only wire the aws layer to the pure steps.
"""
