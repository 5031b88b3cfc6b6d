#version 330
// Every lit mesh: structures (model = identity), trajectory tubes and markers.

uniform mat4 u_proj;
uniform mat4 u_view;
uniform mat4 u_model;
uniform mat3 u_normal_matrix;  // model -> view for normals
uniform vec4 u_clip;           // world plane; the kept side has dot(u_clip, (p, 1)) >= 0

in vec3 in_position;
in vec3 in_normal;

out vec3 v_pos;     // view space
out vec3 v_normal;  // view space
out vec3 v_world;   // LPS mm

void main() {
    vec4 world = u_model * vec4(in_position, 1.0);
    vec4 view = u_view * world;
    v_pos = view.xyz;
    v_world = world.xyz;
    v_normal = u_normal_matrix * in_normal;
    gl_ClipDistance[0] = dot(u_clip, world);
    gl_Position = u_proj * view;
}
