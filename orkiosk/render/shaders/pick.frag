#version 330
// Picking: the LPS position and a code (+id front face, -id back face) of the nearest surface.
// Opaque surfaces win over transparent ones: their depth goes to the front half of the range.

uniform float u_code;
uniform bool u_transparent;

in vec3 v_pos;
in vec3 v_normal;
in vec3 v_world;

out vec4 f_out;

void main() {
    f_out = vec4(v_world, gl_FrontFacing ? u_code : -u_code);
    gl_FragDepth = u_transparent ? 0.5 + 0.5 * gl_FragCoord.z : 0.5 * gl_FragCoord.z;
}
