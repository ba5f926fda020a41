"""Drawn faces (animated emoji, stickers, cartoons): a photo-or-drawing check, where to read the face, and a
small expression CNN trained on emoji the project renders and faces it draws itself.

Run-time modules (`style`, `crops`, `model`, `stream`) need no fonts; `render`, `procedural`, `augment` and
`train` make the training data.
"""
