"""3D picture of a plan: moderngl only, context injected, never imports Kivy.

Modules:
  camera    Camera: named anatomical views, probe's-eye/perpendicular trajectory views, orbit,
            zoom, pan, roll, fit, project/ray (screen pixels, origin top-left).   [no GL]
  state     DisplayState (visibility/opacity/colour overrides, ClipPlane, markers), Quality
            (FULL / INTERACTIVE), InteractionQuality (which quality for this frame),
            parse_cut.                                                          [no GL]
  geometry  procedural meshes, LOD by vertex clustering, closedness test.       [no GL]
  prepare   prepare_scene(plan, meshes) -> PreparedScene: LOD, anchors, bounds; the slow
            part of showing a plan, safe on a worker thread.                   [no GL]
  context   check_context (GL >= 3.3), create_headless_context (EGL).
  glstate   hand GL state back to a host toolkit (VAO 0, program 0, viewport, blend);
            collect_gl_garbage for gc_mode "context_gc".
  renderer  Renderer(ctx) -> create_scene(plan, meshes) -> Scene; render (a short sequence
            of the passes below), read_image, pick, labels; release(); frame_steps and
            scene_upload: the same frame and upload in bounded steps.
  steps     FrameSteps, StepInfo: a frame's passes run as steps (budget of triangles per
            step, GL state set by every step, only the last one touches the caller's target).
  work      Pass, Draw, Fullscreen: a frame's work as data; cut_steps; reset_state.
  upload    SceneUpload: buffers reserved up front, written in slices, vertex arrays last.
  programs  load_shader (importlib.resources, #include), Programs (every GL program, the
            full-screen vertex arrays, unit marker meshes), uniform helpers.
  scene     GpuMesh (reserved buffers, index-range draws), Scene, DrawItem.
  targets   SceneTargets (multisampled, resolved and OIT buffers), TargetCache (those, lent
            to one frame at a time; the renderer's own output target, direct-copy framebuffers).
  frame     FrameView (matrices, clip), DrawList (what a frame draws), FrameInfo, Lap.
  opaque    pass: opaque cut sections, surfaces and markers into the scene buffer.
  oit       pass: translucent surfaces by weighted blended OIT, and their composite.
  caps      capped cuts: crossing counts per cut structure, section shading.
  outline   pass: silhouette lines from the scene depth.
  present   the scene into the caller's framebuffer; end-of-frame state.
  markers   trajectory and landmark markers (model matrices, drawing, x-ray).
  orientation  the orientation marker (axes, letters; own small buffer).
  picking   Picker, PickResult: 1x1-pixel pick render, cut sections.
  labels    Label, scene_labels: label positions on screen.                 [no GL]
  boxes     bounding-box helpers: corners, clip/ray tests, screen rectangles.  [no GL]
  snapshot  render_snapshot(plan, meshes, SnapshotOptions) -> PIL image; commands: the
            `orkiosk snapshot` sub-command; bench: bench_render() on make_synthetic_plan().

Kiosk use (Kivy side, in app/): make the context with moderngl.create_context() inside the Kivy
window, Renderer(ctx); prepared = prepare_scene(plan, meshes) (worker thread is fine), then
scene = renderer.create_scene(prepared) on the GL thread. Each frame, from a Clock callback:
renderer.render(scene, camera, state, framebuffer=fbo, quality=...) where fbo's colour is
ctx.external_texture(kivy_tex.id, size, 4, 0, "f1"). Cheapest interactive frames: render into
the bottom-left quarter, viewport=(0, 0, w // 2, h // 2) with Quality(scale=1, msaa=0,
lod=True, outlines=False), and show that quarter stretched (Rectangle.tex_coords); the renderer
then copies its buffer instead of running a scaling pass (demo plan ~19 ms instead of ~29 ms at
1920x1080 on 2-core llvmpipe). Afterwards restore Kivy's bindings (previous framebuffer, VAO 0,
program 0): the renderer leaves moderngl's default enable state but its last VAO, program and
textures (units 0-3) bound. A new plan without stalling the UI: upload =
renderer.scene_upload(prepared, chunk_bytes=...) and one upload.step() per UI frame, then
steps = renderer.frame_steps(upload.scene, ..., framebuffer=back, budget=...) and one
next(steps) per UI frame into a second picture, shown once steps.info is set; restore Kivy's
bindings after every step as after a frame.
"""
