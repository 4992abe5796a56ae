"""Clips a person watches: rendered from saved MuJoCo state or from frames recorded with env.render(), written as
mp4 files beside a JSON of metadata. Used by the control loop, `prefrl render`/`watch` and the labelling window, and
imports none of them."""
