#version 330
// A textured rectangle at u_rect = (x0, y0, x1, y1) in normalised device coordinates.
uniform vec4 u_rect;
out vec2 v_uv;
void main() {
    vec2 p = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_uv = p;
    gl_Position = vec4(mix(u_rect.xy, u_rect.zw, p), 0.0, 1.0);
}
