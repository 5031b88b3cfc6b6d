#version 330
// Flat 2D shapes (orientation letters, marker backdrop) in normalised device coordinates.
in vec2 in_position;
in vec4 in_color;  // premultiplied
out vec4 v_color;
void main() {
    v_color = in_color;
    gl_Position = vec4(in_position, 0.0, 1.0);
}
