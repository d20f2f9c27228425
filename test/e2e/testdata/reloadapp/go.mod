module example.com/reloadapp

go 1.22
