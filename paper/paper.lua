-- Pandoc filter for the paper (pandoc >= 2.17).
--
-- * Tables: a paragraph "Table: caption" written before an include marker
--   becomes the caption of the table that follows it (the marker, an HTML
--   comment, would otherwise keep pandoc from seeing the two as one).
-- * Figures: a link to a figure's identifier, written "[Figure 1](#fig:name)",
--   is renumbered with the figure's place among all figures, as LaTeX numbers them.
-- * PDF only: each figure uses the vector .pdf written beside its .png, and a
--   figure much wider than the text block goes on a landscape page, so that
--   its lettering is printed at a readable size.

local LANDSCAPE_RATIO = 1.6 -- natural width / text width above which a figure turns
local TEXT_WIDTH_PT = 483 -- A4 with 2 cm margins (the Makefile's geometry)

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- Width and height in points of a PDF's first MediaBox (matplotlib writes it uncompressed).
local function media_box(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local head = f:read(200000) or ""
  f:close()
  local x0, y0, x1, y1 = head:match("/MediaBox%s*%[%s*([%d.-]+)%s+([%d.-]+)%s+([%d.-]+)%s+([%d.-]+)%s*%]")
  if not x0 then
    return nil
  end
  return tonumber(x1) - tonumber(x0), tonumber(y1) - tonumber(y0)
end

local function vector_twin(src)
  if src:match("%.png$") then
    local pdf = src:gsub("%.png$", ".pdf")
    if exists(pdf) then
      return pdf
    end
  end
  return nil
end

local function caption_of(block)
  if block.t ~= "Para" or #block.content < 2 then
    return nil
  end
  local first = block.content[1]
  if first.t ~= "Str" or first.text ~= "Table:" then
    return nil
  end
  local rest = pandoc.List()
  for i = 2, #block.content do
    rest:insert(block.content[i])
  end
  while #rest > 0 and (rest[1].t == "Space" or rest[1].t == "SoftBreak") do
    rest:remove(1)
  end
  return rest
end

-- The lone image of a figure paragraph, or nil.
local function figure_image(block)
  if (block.t == "Para" or block.t == "Plain") and #block.content == 1 and block.content[1].t == "Image" then
    return block.content[1]
  end
  return nil
end

local function latex_figure(block, out)
  local image = figure_image(block)
  if not image then
    out:insert(block)
    return
  end
  local pdf = vector_twin(image.src)
  if pdf then
    image.src = pdf
    local width = media_box(pdf)
    local sized = image.attributes.width ~= nil
    if width and not sized and width > LANDSCAPE_RATIO * TEXT_WIDTH_PT then
      out:insert(pandoc.RawBlock("latex", "\\begin{landscape}"))
      out:insert(block)
      out:insert(pandoc.RawBlock("latex", "\\end{landscape}"))
      return
    end
  end
  out:insert(block)
end

-- Number of each figure identifier, in document order.
local figure_numbers = {}

local function number_figures(blocks)
  local count = 0
  for _, block in ipairs(blocks) do
    local image = figure_image(block)
    if image and image.title:match("^fig:") then
      count = count + 1
      if image.identifier ~= "" then
        figure_numbers[image.identifier] = count
      end
    end
  end
end

local function renumber_link(link)
  local id = link.target:match("^#(fig:.+)$")
  if not id then
    return nil
  end
  local number = figure_numbers[id]
  if not number then
    error("a link names figure '" .. id .. "', which the paper does not have")
  end
  link.content = { pandoc.Str("Figure"), pandoc.Space(), pandoc.Str(tostring(number)) }
  return link
end

local function layout(doc)
  local out = pandoc.List()
  local pending = nil
  local latex = FORMAT:match("latex") ~= nil
  for _, block in ipairs(doc.blocks) do
    local caption = caption_of(block)
    if caption then
      if pending then
        error("a table caption is followed by another caption before its table")
      end
      pending = caption
    elseif block.t == "Table" and pending then
      block.caption = { long = { pandoc.Plain(pending) }, short = nil }
      pending = nil
      out:insert(block)
    elseif pending and block.t ~= "RawBlock" then
      error("the table caption '" .. pandoc.utils.stringify(pending) .. "' is not followed by a table")
    elseif latex then
      latex_figure(block, out)
    else
      out:insert(block)
    end
  end
  if pending then
    error("the table caption '" .. pandoc.utils.stringify(pending) .. "' is not followed by a table")
  end
  doc.blocks = out
  number_figures(doc.blocks)
  return doc
end

return { { Pandoc = layout }, { Link = renumber_link } }
