"""The views both apps draw with: the 3D plan (`view3d`, its two pictures `viewframes`, its names
`viewlabels` placed by `labelplace`), the image slices (`sliceview`) and the one touch path into
the gesture recogniser (`touchinput`). They show a KioskState (app/model) and own no plan state."""
