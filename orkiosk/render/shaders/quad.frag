#version 330
uniform sampler2D u_texture;  // premultiplied
in vec2 v_uv;
out vec4 f_color;
void main() {
    f_color = texture(u_texture, v_uv);
}
