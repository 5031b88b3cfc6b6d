// Linear RGB -> sRGB for an 8-bit target (plan colours are linear, as glTF's): the exact curve,
// so a structure has the colour 3D Slicer and glTF viewers give it.
vec3 to_display(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}
