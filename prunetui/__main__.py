from prunetui.cli.main import command

command()
