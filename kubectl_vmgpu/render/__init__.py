"""Reports as strings: text (describe tree, doctor list), json/yaml (the schema), the devices table."""
