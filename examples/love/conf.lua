function love.conf(t)
  t.identity = "lua-chatgpt-npcs"
  t.window.title = "lua-chatgpt: NPCs"
  t.window.width, t.window.height = 800, 400
  t.window.vsync = 0
  t.modules.audio, t.modules.sound, t.modules.joystick = false, false, false
end
